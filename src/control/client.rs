//! The CLI side: connect, send one request, read one response.

use super::protocol::{read_frame, write_frame, Request, Response};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub fn call(socket: &Path, req: &Request) -> anyhow::Result<Response> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the banjo daemon at {}: {e} (is banjo.service running? try: systemctl status banjo)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write_frame(&mut s, req)?;
    read_frame(&mut s).map_err(|e| anyhow::anyhow!("reading the daemon's answer: {e}"))
}
