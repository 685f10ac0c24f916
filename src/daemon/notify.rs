//! The two small systemd protocols a service speaks: sd_notify (READY=1, STATUS=,
//! WATCHDOG=1 …, a datagram to $NOTIFY_SOCKET) and socket activation ($LISTEN_FDS).
//! Both are a few lines over std, so no extra library is needed.

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::time::Duration;

/// Talks to systemd when started by it; a no-op otherwise.
pub struct Notifier {
    socket: Option<(UnixDatagram, std::path::PathBuf, bool)>,
    /// Half of WatchdogSec, when systemd asked for keep-alives.
    pub watchdog: Option<Duration>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|p| {
            let s = UnixDatagram::unbound().ok()?;
            // Never wait on systemd: a full queue drops a STATUS= rather than stall
            // the firewall path (seen with a notify socket nobody read).
            s.set_nonblocking(true).ok()?;
            let path = std::path::PathBuf::from(&p);
            let abstract_ns = p.to_string_lossy().starts_with('@');
            Some((s, path, abstract_ns))
        });
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| {
                std::env::var("WATCHDOG_PID")
                    .map(|p| p.parse::<u32>().ok() == Some(std::process::id()))
                    .unwrap_or(true)
            })
            .map(|us| Duration::from_micros(us / 2));
        Notifier { socket, watchdog }
    }

    /// Send `state` (e.g. "READY=1\nSTATUS=…"); errors are ignored: systemd may be gone.
    pub fn notify(&self, state: &str) {
        let Some((sock, path, abstract_ns)) = &self.socket else {
            return;
        };
        if *abstract_ns {
            use std::os::linux::net::SocketAddrExt;
            let name = path.to_string_lossy();
            if let Ok(addr) =
                std::os::unix::net::SocketAddr::from_abstract_name(&name.as_bytes()[1..])
            {
                let _ = sock.send_to_addr(state.as_bytes(), &addr);
            }
        } else {
            let _ = sock.send_to(state.as_bytes(), path);
        }
    }
}

/// The listening socket systemd passed us (banjo.socket), if any.
pub fn activation_listener() -> Option<UnixListener> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let n = std::env::var("LISTEN_FDS").ok()?.parse::<i32>().ok()?;
    if !pid_ok || n < 1 {
        return None;
    }
    // SD_LISTEN_FDS_START: the first passed descriptor is 3.
    const FIRST: RawFd = 3;
    // Safety: systemd hands us this descriptor open and owned by us alone; we take it
    // once (the variables are removed so no child or second call takes it again).
    let l = unsafe { UnixListener::from_raw_fd(FIRST) };
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDNAMES");
    Some(l)
}
