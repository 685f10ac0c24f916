//! Target `control`: control-socket frames (`control::protocol`) and the daemon's
//! non-blocking framing (`control::server::Server`) over a real Unix socket.
//!
//! Input: byte 0 chooses how the rest is cut into writes (so frames arrive in pieces),
//! the rest is what a client sends before it closes its side.
//!
//! Oracles beyond "no panic":
//! - the server does what the protocol says of the bytes as a whole: a frame over
//!   `MAX_FRAME` gets an error answer, a whole frame whose JSON is a `Request` is
//!   handed to the daemon as exactly that request, any other whole frame gets an
//!   error answer, a short one (the client gave up) none; every answer is one frame
//!   of a `Response`;
//! - a request round-trips: encoded again and decoded, it is the same request;
//! - `read_frame` (the client side) agrees with `frame_len` on every prefix.

use banjo::control::protocol::{encode, frame_len, read_frame, Request, Response, MAX_FRAME};
use banjo::control::server::Server;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// What the server should make of `bytes`.
#[derive(Debug, PartialEq)]
enum Expect {
    Request(Request),
    ErrorAnswer,
    Nothing,
}

fn expect(bytes: &[u8]) -> Expect {
    match frame_len(bytes) {
        Err(_) => Expect::ErrorAnswer,
        Ok(None) => Expect::Nothing,
        Ok(Some(n)) => match serde_json::from_slice::<Request>(&bytes[4..4 + n]) {
            Ok(r) => Expect::Request(r),
            Err(_) => Expect::ErrorAnswer,
        },
    }
}

pub fn run(data: &[u8]) {
    let [cut, bytes @ ..] = data else { return };
    ignore_sigpipe();
    let want = expect(bytes);
    if let Expect::Request(r) = &want {
        let again = encode(r);
        assert_eq!(frame_len(&again), Ok(Some(again.len() - 4)));
        let back: Request = serde_json::from_slice(&again[4..]).expect("own encoding");
        assert_eq!(&back, r, "request does not round-trip");
    }
    check_read_frame(bytes);
    assert_eq!(serve(*cut, bytes), want, "server and protocol disagree");
}

/// The client side reads a `Request` frame as the server's framing does (the limit
/// differs: clients accept large responses).
fn check_read_frame(bytes: &[u8]) {
    let got = read_frame::<Request>(&mut std::io::Cursor::new(bytes)).ok();
    let model = match frame_len(bytes) {
        Ok(Some(n)) => serde_json::from_slice::<Request>(&bytes[4..4 + n]).ok(),
        _ => None,
    };
    if bytes.len() >= 4
        && u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize <= MAX_FRAME
    {
        assert_eq!(got, model, "read_frame and frame_len disagree");
    }
}

/// Send `bytes` in pieces, close, and see what the server makes of it.
fn serve(cut: u8, bytes: &[u8]) -> Expect {
    let dir = std::env::temp_dir().join(format!(
        "banjo-fuzz-ctl-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("s");
    let _ = std::fs::remove_file(&path);
    let mut server = Server::new(UnixListener::bind(&path).expect("bind")).expect("server");
    let mut client = UnixStream::connect(&path).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // At most 64 pieces (the last one holds the rest): 1-byte pieces split the length
    // prefix, and a server turn per byte of a 64 KiB input would be most of the run.
    let step = usize::from(cut % 16) * 64 + 1;
    let pieces = bytes.chunks(step).take(63).map(|p| p.len()).sum::<usize>();
    let (first, rest) = bytes.split_at(pieces);
    let mut got = None;
    for piece in first.chunks(step).chain(std::iter::once(rest)) {
        // The server may already have answered and closed (an over-long frame).
        if client.write_all(piece).is_err() {
            break;
        }
        got = got.or_else(|| service(&mut server));
    }
    let _ = client.shutdown(std::net::Shutdown::Write);
    // A Unix socket's write has landed in the server's buffer when it returns, so
    // the server normally sees everything (and the close) at its next turn; sleeping
    // between turns only for a server that is slower than that.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut turns = 0;
    while got.is_none() && server.client_count() > 0 && Instant::now() < deadline {
        got = service(&mut server);
        turns += 1;
        if turns > 100 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let outcome = match got {
        Some((id, req)) => {
            server.respond(id, &Response::ok(serde_json::Value::Null));
            Expect::Request(req)
        }
        None => Expect::Nothing,
    };
    let mut answer = Vec::new();
    let _ = client.read_to_end(&mut answer);
    let _ = std::fs::remove_file(&path);
    match (outcome, answer.is_empty()) {
        (Expect::Request(r), false) => {
            let resp = decode_answer(&answer);
            assert!(resp.ok, "request answered with {resp:?}");
            Expect::Request(r)
        }
        (Expect::Request(_), true) => panic!("a request's answer was lost"),
        (Expect::Nothing, false) => {
            let resp = decode_answer(&answer);
            assert!(!resp.ok && resp.error.is_some(), "{resp:?}");
            Expect::ErrorAnswer
        }
        (other, true) => other,
        (Expect::ErrorAnswer, false) => unreachable!(),
    }
}

fn service(server: &mut Server) -> Option<(u64, Request)> {
    server
        .service()
        .into_iter()
        .next()
        .map(|inc| (inc.client, inc.request))
}

fn decode_answer(answer: &[u8]) -> Response {
    let n = frame_len(answer).ok().flatten();
    assert_eq!(
        n.map(|n| n + 4),
        Some(answer.len()),
        "answer is not one frame"
    );
    serde_json::from_slice(&answer[4..]).expect("answer is a Response")
}

/// A write to a client the server already dropped must fail with EPIPE, not end the
/// process: Rust's own `main` ignores SIGPIPE, libFuzzer's does not.
fn ignore_sigpipe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use nix::sys::signal::{signal, SigHandler, Signal};
        // SAFETY: installs SIG_IGN, no handler code runs; done once, before any write.
        unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) }.expect("ignore SIGPIPE");
    });
}
