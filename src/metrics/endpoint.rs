//! `GET /metrics` over TCP or a unix socket, without blocking the daemon's loop.
//!
//! A thread of its own accepts and reads requests (one at a time, each bounded in
//! size and time, so a slow or hostile client costs at most a few seconds of that
//! thread and never the loop). For a scrape it wakes the loop through a datagram
//! socket in the loop's poll set; the loop renders the exposition from what it holds
//! at that moment ([`MetricsEndpoint::serve`]) and hands the text back. So a scrape is
//! always current, nothing is rendered while nobody scrapes, and an idle daemon with
//! metrics on still sleeps: the thread blocks in accept(2), the loop in poll(2).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The largest request head read; a longer one is answered 431 and closed.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a client may take to send its request, or to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scrape waits for the loop (busy with a backlog) before a 503.
const RENDER_TIMEOUT: Duration = Duration::from_secs(5);
/// What Prometheus expects for the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Where to listen: `127.0.0.1:9191`, `[::1]:9191`, or `unix:/run/banjo/metrics.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Listen, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            let p = PathBuf::from(p);
            if !p.is_absolute() {
                return Err(format!("{s:?}: a unix socket needs an absolute path"));
            }
            return Ok(Listen::Unix(p));
        }
        s.parse::<SocketAddr>().map(Listen::Tcp).map_err(|_| {
            format!("{s:?} is neither ADDRESS:PORT (127.0.0.1:9191, [::1]:9191) nor unix:/PATH")
        })
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("metrics: cannot listen on {listen}: {source}")]
    Listen {
        listen: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Io(#[from] std::io::Error),
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// Between the thread and the loop.
struct Shared {
    /// The text the loop rendered for the waiting scrape.
    slot: Mutex<Option<String>>,
    ready: Condvar,
    stop: AtomicBool,
}

/// The daemon's side of the endpoint.
pub struct MetricsEndpoint {
    wake: UnixDatagram,
    shared: Arc<Shared>,
    listener_fd: RawFd,
    thread: Option<std::thread::JoinHandle<()>>,
    unix_path: Option<PathBuf>,
    /// Where it listens (for TCP, with the port the kernel chose for `:0`).
    pub listen: Listen,
}

impl MetricsEndpoint {
    pub fn start(listen: &Listen) -> Result<MetricsEndpoint, EndpointError> {
        let err = |source| EndpointError::Listen {
            listen: listen.to_string(),
            source,
        };
        let listener = match listen {
            Listen::Tcp(a) => Listener::Tcp(TcpListener::bind(a).map_err(err)?),
            Listen::Unix(p) => {
                // A socket file nobody answers on is a leftover of a crash.
                if p.exists() && std::os::unix::net::UnixStream::connect(p).is_err() {
                    let _ = std::fs::remove_file(p);
                }
                Listener::Unix(UnixListener::bind(p).map_err(err)?, p.clone())
            }
        };
        let (listener_fd, bound) = match &listener {
            Listener::Tcp(l) => (l.as_raw_fd(), Listen::Tcp(l.local_addr()?)),
            Listener::Unix(l, p) => (l.as_raw_fd(), Listen::Unix(p.clone())),
        };
        let (wake, ask) = UnixDatagram::pair()?;
        wake.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            slot: Mutex::new(None),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s2 = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || accept_loop(listener, ask, s2))?;
        Ok(MetricsEndpoint {
            wake,
            shared,
            listener_fd,
            thread: Some(thread),
            unix_path: match listen {
                Listen::Unix(p) => Some(p.clone()),
                Listen::Tcp(_) => None,
            },
            listen: bound,
        })
    }

    /// Readable when a scrape waits for a render.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Answer the waiting scrape with `render()` (call when [`fd`](Self::fd) is
    /// readable; a spurious call renders nothing).
    pub fn serve(&self, render: impl FnOnce() -> String) {
        let mut b = [0u8; 16];
        let mut asked = false;
        while self.wake.recv(&mut b).is_ok() {
            asked = true;
        }
        if !asked {
            return;
        }
        let text = render();
        if let Ok(mut slot) = self.shared.slot.lock() {
            *slot = Some(text);
            self.shared.ready.notify_all();
        }
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // SAFETY: the listener's fd stays open until the thread ends (it owns the
        // listener); shutdown(2) on a listening socket makes a blocked accept return,
        // so the thread sees `stop` and exits.
        unsafe {
            nix::libc::shutdown(self.listener_fd, nix::libc::SHUT_RDWR);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(p) = &self.unix_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn accept_loop(listener: Listener, ask: UnixDatagram, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let served = match &listener {
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_read_timeout(Some(CLIENT_TIMEOUT));
                let _ = s.set_write_timeout(Some(CLIENT_TIMEOUT));
                let _ = s.set_nodelay(true);
                handle(s, &ask, &shared);
            }),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| {
                let _ = s.set_read_timeout(Some(CLIENT_TIMEOUT));
                let _ = s.set_write_timeout(Some(CLIENT_TIMEOUT));
                handle(s, &ask, &shared);
            }),
        };
        if served.is_err() && !shared.stop.load(Ordering::SeqCst) {
            // EMFILE and the like: do not spin.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if let Listener::Unix(_, p) = &listener {
        let _ = std::fs::remove_file(p);
    }
}

/// One request: read its head, answer, close.
fn handle(mut s: impl Read + Write, ask: &UnixDatagram, shared: &Shared) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = find_head_end(&buf) {
            break i;
        }
        if buf.len() >= MAX_REQUEST {
            let _ = respond(
                &mut s,
                431,
                "Request Header Fields Too Large",
                "text/plain",
                b"request too large\n",
                false,
            );
            // Read (a bounded amount of) what the client is still sending: closing
            // with unread input would reset the connection before it reads the answer.
            let mut left: usize = 64 * 1024;
            while left > 0 {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let _ = respond(
            &mut s,
            405,
            "Method Not Allowed",
            "text/plain",
            b"GET /metrics\n",
            false,
        );
        return;
    }
    if path != "/metrics" {
        let _ = respond(
            &mut s,
            404,
            "Not Found",
            "text/plain",
            b"banjo serves /metrics\n",
            head_only,
        );
        return;
    }
    match render_via_loop(ask, shared) {
        Some(text) => {
            let _ = respond(&mut s, 200, "OK", CONTENT_TYPE, text.as_bytes(), head_only);
        }
        None => {
            let _ = respond(
                &mut s,
                503,
                "Service Unavailable",
                "text/plain",
                b"banjo is busy; try again\n",
                head_only,
            );
        }
    }
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| b.windows(2).position(|w| w == b"\n\n"))
}

/// Ask the loop for a render and wait for it.
fn render_via_loop(ask: &UnixDatagram, shared: &Shared) -> Option<String> {
    let mut slot = shared.slot.lock().ok()?;
    *slot = None;
    ask.send(b"m").ok()?;
    let (mut slot, _) = shared
        .ready
        .wait_timeout_while(slot, RENDER_TIMEOUT, |s| s.is_none())
        .ok()?;
    slot.take()
}

fn respond(
    s: &mut impl Write,
    code: u16,
    reason: &str,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if !head_only {
        s.write_all(body)?;
    }
    s.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpStream;

    /// The loop's part, run beside the test: answer every scrape with a counter.
    fn run_loop(ep: &MetricsEndpoint, n: usize) {
        let mut served = 0;
        while served < n {
            let mut fds = [nix::poll::PollFd::new(
                ep.fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
            served += 1;
            ep.serve(|| format!("banjo_test_total {served}\n"));
        }
    }

    fn get(addr: SocketAddr, req: &str) -> (String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        (status, rest)
    }

    #[test]
    fn scrapes_are_rendered_by_the_loop_and_others_refused() {
        let ep = MetricsEndpoint::start(&"127.0.0.1:0".parse().unwrap()).unwrap();
        let Listen::Tcp(addr) = ep.listen.clone() else {
            panic!("{}", ep.listen)
        };
        std::thread::scope(|s| {
            s.spawn(|| run_loop(&ep, 2));
            let (st, body) = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assert!(st.starts_with("HTTP/1.1 200"), "{st}");
            assert!(
                body.contains("version=0.0.4") && body.ends_with("banjo_test_total 1\n"),
                "{body}"
            );
            let (st, _) = get(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
            assert!(st.starts_with("HTTP/1.1 200"), "{st}");
        });
        let (st, _) = get(addr, "GET / HTTP/1.1\r\n\r\n");
        assert!(st.starts_with("HTTP/1.1 404"), "{st}");
        let (st, _) = get(addr, "POST /metrics HTTP/1.1\r\n\r\n");
        assert!(st.starts_with("HTTP/1.1 405"), "{st}");
        let big = format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_REQUEST)
        );
        let (st, _) = get(addr, &big);
        assert!(st.starts_with("HTTP/1.1 431"), "{st}");
        // A client that connects and says nothing holds the thread for at most
        // CLIENT_TIMEOUT; the next scrape is still answered.
        let _idle = TcpStream::connect(addr).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| run_loop(&ep, 1));
            let (st, _) = get(addr, "GET /metrics HTTP/1.1\r\n\r\n");
            assert!(st.starts_with("HTTP/1.1 200"), "{st}");
        });
        drop(ep);
        assert!(
            TcpStream::connect(addr).is_err(),
            "the listener is closed on drop"
        );
    }

    #[test]
    fn listen_addresses_parse_with_clear_errors() {
        assert_eq!(
            "127.0.0.1:9191".parse::<Listen>().unwrap().to_string(),
            "127.0.0.1:9191"
        );
        assert_eq!(
            "[::1]:9191".parse::<Listen>().unwrap().to_string(),
            "[::1]:9191"
        );
        assert_eq!(
            "unix:/run/banjo/metrics.sock".parse::<Listen>().unwrap(),
            Listen::Unix("/run/banjo/metrics.sock".into())
        );
        assert!("unix:rel.sock"
            .parse::<Listen>()
            .unwrap_err()
            .contains("absolute"));
        assert!("localhost:9191"
            .parse::<Listen>()
            .unwrap_err()
            .contains("ADDRESS:PORT"));
    }
}
